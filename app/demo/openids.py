"""The openid of a development login code.

The demo seeds its volunteers under the openids that the fake WeChat server of
development and tests (`fakes.wechat`) answers for their login codes, so that logging in
with `guifang` under `make run` finds 桂芳. The fake answers with this function, so the
two cannot drift apart; `app` never imports the fake.
"""

from __future__ import annotations

import hashlib


def openid_for(login_code: str) -> str:
    """The openid the fake returns for the login code `login_code`."""
    return "o" + hashlib.sha256(f"openid:{login_code}".encode()).hexdigest()[:27]
