"""Tables of `app.merchants`."""
