"""One HTTP session to the service: its errors become `ServiceError`, a refused connection
`ConnectionFailed`, so every command reports them the same way."""

import json
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

import aiohttp

API_PREFIX = "/api/v1"


class ClientFailure(Exception):
    """A command that could not do its work; `exit_code` is what the process returns."""

    exit_code = 1


class UsageError(ClientFailure):
    """The command was asked for something it cannot do (unknown name, missing URL, ...)."""

    exit_code = 3


class ConnectionFailed(ClientFailure):
    exit_code = 3

    def __init__(self, url: str, reason: object) -> None:
        super().__init__(f"cannot connect to {url}: {reason}")


class ServiceError(ClientFailure):
    """An answer in the service's error format: message, details and request id."""

    def __init__(self, status: int, error: dict[str, Any], request_id: str | None) -> None:
        self.status = status
        self.code = error.get("code", "error")
        self.message = error.get("message", "")
        self.details = error.get("details") or {}
        self.request_id = error.get("request_id") or request_id
        super().__init__(self.message)

    def __str__(self) -> str:
        lines = [f"{self.message} ({self.status} {self.code})"]
        lines += [f"  {field}: {_detail(value)}" for field, value in self.details.items()]
        if self.request_id:
            lines.append(f"  request id: {self.request_id}")
        return "\n".join(lines)


def _detail(value: object) -> str:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return " ".join(value)
    return value if isinstance(value, str) else json.dumps(value)


def base_url(url: str) -> str:
    """The service's root, whether the user gave it with or without `/api/v1`."""
    return url.rstrip("/").removesuffix(API_PREFIX)


class Client:
    """`async with Client(url, token) as api: await api.get("/servers")`; paths are under
    /api/v1 and bodies are parsed JSON."""

    def __init__(self, url: str, token: str) -> None:
        self.url = base_url(url)
        self.token = token
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> "Client":
        self._session = aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=120),
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None, "use the client in `async with`"
        return self._session

    def api_url(self, path: str) -> str:
        return f"{self.url}{API_PREFIX}{path}"

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        url = self.api_url(path)
        try:
            async with self.session.request(method, url, **kwargs) as response:
                text = await response.text()
                body = json.loads(text) if text and response.content_type.endswith("json") else text
                if response.status >= 400:
                    error = body.get("error") if isinstance(body, dict) else None
                    if not isinstance(error, dict):
                        message = str(text)[:200] or response.reason
                        error = {"code": "http_error", "message": message}
                    raise ServiceError(response.status, error, response.headers.get("X-Request-ID"))
                return body
        except aiohttp.ClientConnectionError as exc:
            raise ConnectionFailed(self.url, exc) from exc

    async def get(self, path: str, **params: Any) -> Any:
        clean = {key: str(value) for key, value in params.items() if value is not None}
        return await self.request("GET", path, params=clean)

    async def post(self, path: str, body: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        return await self.request("POST", path, json=body if body is not None else {}, **kwargs)

    async def patch(self, path: str, body: dict[str, Any]) -> Any:
        return await self.request("PATCH", path, json=body)

    async def put(self, path: str, body: dict[str, Any]) -> Any:
        return await self.request("PUT", path, json=body)

    async def delete(self, path: str, **params: Any) -> Any:
        clean = {key: str(value).lower() for key, value in params.items() if value}
        return await self.request("DELETE", path, params=clean)

    async def all_pages(self, path: str, **params: Any) -> AsyncIterator[dict[str, Any]]:
        """Every item of a paged list, fetched 100 at a time."""
        page = 1
        while True:
            body = await self.get(path, **params, page=page, per_page=100)
            for item in body["items"]:
                yield item
            if page >= body["total_pages"]:
                return
            page += 1
