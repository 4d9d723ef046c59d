"""Hosted-mode billing: plans, each account's Stripe subscription, webhooks, checkout, portal, sync, promo codes
and data retention. Nothing here reads the settings: callers pass a ``StripeConfig`` (None when self-hosted)."""
