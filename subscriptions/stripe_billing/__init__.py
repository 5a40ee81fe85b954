"""Stripe, through a thin adapter on the official SDK: the gateway that carries Tack's
decisions out (``gateway``), Stripe's signed webhooks (``events``) and the first import
(``sync``). README "Connecting Stripe" says why not dj-stripe."""
