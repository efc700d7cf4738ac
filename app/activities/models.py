"""Tables of `app.activities`."""
