"""Tables of `app.rewards`."""
