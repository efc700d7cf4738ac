"""A bare FastAPI route, served the same way as the service: the benchmarks' baseline."""

from fastapi import FastAPI


def create_app() -> FastAPI:
    app = FastAPI()

    @app.post("/ping")
    async def ping(body: dict[str, object]) -> dict[str, object]:
        return {"ok": True, "echo": len(body)}

    return app
