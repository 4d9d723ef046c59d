"""Route constants: one place that names every page and API path."""

LOGIN = "/login"
SIGNUP = "/signup"
ONBOARDING = "/onboarding"
DASHBOARD = "/"
SETTINGS = "/settings"

PUBLIC_PAGES = frozenset({LOGIN, SIGNUP})

API_EVENTS = "/v1/events"
API_HEALTHZ = "/v1/healthz"
API_CAPS_STATUS = "/v1/caps/status"
API_DOCS = "/api/docs"
API_OPENAPI = "/api/openapi.json"
