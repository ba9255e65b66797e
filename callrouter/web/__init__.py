"""Flask blueprints and web-only helpers such as the Twilio webhook signature check."""
