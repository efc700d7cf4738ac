"""Liangpiao (良票): the backend of a district's volunteer programme."""
