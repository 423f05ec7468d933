# NOTE(examples): first, before anything imports oslo_messaging or
# oslo_service: selects oslo.service's threading backend.
import nova_fixtures  # noqa: F401
