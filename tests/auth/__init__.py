"""Helpers for the login tests: a real OpenID Connect provider and an HTTP login client."""
