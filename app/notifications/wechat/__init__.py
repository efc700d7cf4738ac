"""The WeChat subscribe-message channel: a region's templates, each person's send
credits, the values WeChat's field types hold, and the sender that spends them."""
