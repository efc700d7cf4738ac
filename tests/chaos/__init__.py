"""The crash-and-restart suite: the real server under a mixed, retrying workload while
its process is killed, PostgreSQL restarts and a second process joins; then the
database is checked against every answer the clients got (`python -m tests.chaos`)."""
