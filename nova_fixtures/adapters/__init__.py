"""What particular suites need beyond the library, one module each."""
