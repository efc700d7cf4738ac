"""The tour's own settings: who it logs in as, the policy it sets, what it spends."""

# The demo's volunteer 王小明 (app.demo): the fake WeChat logs this code in as him.
VOLUNTEER_CODE = "xiaoming"
STATION_NAME = "流虹社区实践站"
# The region's reward policy the tour sets: one 良票 a minute, make-up hours earning too.
RATE_PER_HOUR = 60
EARNING_SOURCES = ("checkin", "makeup")
MAKEUP_MINUTES = 30
OFFER_PRICE = 10
# How long the tour waits for the background jobs: outbox delivery runs every second,
# ledger sealing every five.
JOB_WAIT_SECONDS = 30.0
