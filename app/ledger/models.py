"""Tables of `app.ledger`."""
