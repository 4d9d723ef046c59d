"""The app: pages (Reflex) and the ingest API (FastAPI), served by one process on one port."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

import reflex as rx
from reflex.utils import prerequisites
from reflex_base import constants
from reflex_base.config import get_config
from starlette.types import ASGIApp

from ingest_api import background_work, create_ingest_app, sdk_files
from llmobserve_app import routes
from llmobserve_app.clock import app_clock
from llmobserve_app.jobs import scheduler_lifespan
from llmobserve_app.pages.auth import login_page, signup_page
from llmobserve_app.pages.breakdowns import agents_page, costs_page, infrastructure_page, insights_page, llms_page
from llmobserve_app.pages.caps import caps_page
from llmobserve_app.pages.customers import customer_detail_page, customers_page
from llmobserve_app.pages.dashboard import dashboard_page
from llmobserve_app.pages.docs import docs_page
from llmobserve_app.pages.onboarding import onboarding_page
from llmobserve_app.pages.prices import prices_page
from llmobserve_app.pages.pricing import pricing_page
from llmobserve_app.pages.runs import run_detail_page, runs_page
from llmobserve_app.pages.settings import settings_page
from llmobserve_app.pages.subscription import subscribe_prompt_page, subscription_page
from llmobserve_app.services.billing.stripe_client import stripe_page_origins
from llmobserve_app.settings import api_url, get_settings, trusted_proxies
from llmobserve_app.state import pickling
from llmobserve_app.state.auth import AuthFormState, OnboardingState
from llmobserve_app.state.breakdowns import AgentsState, CostsState, InfrastructureState, InsightsState, LlmsState
from llmobserve_app.state.caps import CapsState
from llmobserve_app.state.customers import CustomerDetailState, CustomersState
from llmobserve_app.state.dashboard import DashboardState
from llmobserve_app.state.prices_page import PricesState
from llmobserve_app.state.runs import RunDetailState, RunsState
from llmobserve_app.state.settings_page import SettingsState
from llmobserve_app.state.subscription import SubscribePromptState, SubscriptionState
from llmobserve_app.web_security import SecurityHeadersMiddleware

get_settings()  # fail fast on bad configuration (e.g. no JWT_SECRET in production)



class App(rx.App):
    """rx.App whose ASGI app is wrapped, outermost, in the security-headers middleware.

    ``api_transformer`` callables run inside Reflex's outermost CORS layer, whose preflight answers and refusals
    would then miss the headers; ``__call__`` is the factory the servers (granian, uvicorn) call."""

    def __call__(self) -> ASGIApp:
        static_dir = prerequisites.get_web_dir() / constants.Dirs.STATIC / get_config().frontend_path.strip("/")
        stripe_config = get_settings().stripe_config()
        return SecurityHeadersMiddleware(super().__call__(), api_url=api_url(), static_dir=static_dir,
                                         trusted_proxies=trusted_proxies(),
                                         form_targets=stripe_page_origins(stripe_config) if stripe_config else ())


ingest_app = create_ingest_app(clock=app_clock())
app = App(api_transformer=ingest_app)
app.register_lifespan_task(scheduler_lifespan)


@app.register_lifespan_task
def ingest_background_work() -> AbstractAsyncContextManager[None]:
    """Each backend worker starts the SQLite writer process (not on its first batch) and follows newly accepted
    PRICING_URL data with a thread of its own (the jobs above run in one worker only)."""
    return background_work(ingest_app)


@app.register_lifespan_task
def build_sdk_wheel() -> None:
    """The SDK wheel that /sdk/files/ serves is built (or found in the cache) as the server starts."""
    sdk_files.build_in_background()


pickling.install(app)  # no session cookie in the State that Reflex pickles
app.add_page(login_page, route=routes.LOGIN, title="Log in · LLM Observe",
             on_load=AuthFormState.load)
app.add_page(signup_page, route=routes.SIGNUP, title="Sign up · LLM Observe",
             on_load=AuthFormState.load)
app.add_page(onboarding_page, route=routes.ONBOARDING, title="Get started · LLM Observe",
             on_load=OnboardingState.load)
app.add_page(dashboard_page, route=routes.DASHBOARD, title="LLM Observe · what every LLM call costs",
             description="Open-source, self-hostable LLM cost observability: two lines of Python and every call is "
                         "priced per provider, model, customer and agent.", on_load=DashboardState.load)
app.add_page(docs_page, route=routes.DOCS, title="Docs · LLM Observe")
app.add_page(settings_page, route=routes.SETTINGS, title="Settings · LLM Observe", on_load=SettingsState.load)
app.add_page(caps_page, route=routes.CAPS, title="Spending caps · LLM Observe", on_load=CapsState.load)
app.add_page(subscription_page, route=routes.SUBSCRIPTION, title="Subscription · LLM Observe",
             on_load=SubscriptionState.load)
app.add_page(subscribe_prompt_page, route=routes.SUBSCRIBE, title="Choose your plan · LLM Observe",
             on_load=SubscribePromptState.load)
app.add_page(pricing_page, route=routes.PRICING, title="Pricing · LLM Observe")
app.add_page(prices_page, route=routes.SETTINGS_PRICES, title="Custom prices · LLM Observe", on_load=PricesState.load)

ANALYTICS_PAGES = [
    (customers_page, routes.CUSTOMERS, "Customers", CustomersState.load),
    (customer_detail_page, routes.CUSTOMER_DETAIL, "Customer", CustomerDetailState.load),
    (agents_page, routes.AGENTS, "Agents", AgentsState.load),
    (runs_page, routes.RUNS, "Runs", RunsState.load),
    (run_detail_page, routes.RUN_DETAIL, "Run", RunDetailState.load),
    (llms_page, routes.LLMS, "LLMs", LlmsState.load),
    (infrastructure_page, routes.INFRASTRUCTURE, "Infrastructure", InfrastructureState.load),
    (costs_page, routes.COSTS, "Costs", CostsState.load),
    (insights_page, routes.INSIGHTS, "Insights", InsightsState.load),
]
for component, route, title, on_load in ANALYTICS_PAGES:
    app.add_page(component, route=route, title=f"{title} · LLM Observe", on_load=on_load)
