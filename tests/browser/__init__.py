"""End-to-end tests in a real headless chromium, and their helpers."""
