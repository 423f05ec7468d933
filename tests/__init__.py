# NOTE(tests): first, before any test module imports oslo_messaging or
# oslo_service: selects oslo.service's threading backend.
import fake_transport  # noqa: F401
