"""Stand-ins for the outside services Liangpiao talks to, for development and tests.

Nothing here ships: the Dockerfile copies only `app/`, and production never mounts a
fake (production refuses to start with `mount_fake_wechat` on).
"""
