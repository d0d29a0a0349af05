"""Downloads for `%load https://...` where the kernel's libcurl service is absent (the IPython
extension). The same policy as the native client: http(s) only, a size cap counted while the
bytes arrive, and no redirect from a public host into loopback, private or link-local space."""
from __future__ import annotations

import ipaddress
import os
import socket
import urllib.error
import urllib.parse
import urllib.request

_SCHEMES = ("http", "https")


class DownloadRefused(Exception):
    """A download the policy does not allow; the message says why and what to do."""


def max_bytes() -> int:
    from . import settings

    return int(settings.max_download_mb() * (1 << 20))


def _is_internal(host: str) -> bool:
    """True when any address the host resolves to is loopback, private, link-local or reserved."""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False  # the connection itself will fail with a clear error
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        mapped = getattr(address, "ipv4_mapped", None)
        address = mapped or address
        if (address.is_loopback or address.is_private or address.is_link_local
                or address.is_reserved or address.is_unspecified):
            return True
    return False


def _check_scheme(url: str) -> urllib.parse.SplitResult:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() not in _SCHEMES:
        raise DownloadRefused(f"only http:// and https:// URLs can be loaded, not "
                              f"{parts.scheme or 'a bare path'}://")
    return parts


class _RedirectPolicy(urllib.request.HTTPRedirectHandler):
    def __init__(self, internal_allowed: bool):
        super().__init__()
        self.internal_allowed = internal_allowed

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        parts = _check_scheme(newurl)
        if not self.internal_allowed and _is_internal(parts.hostname or ""):
            raise DownloadRefused(
                f"the server redirected to {parts.hostname}, a loopback or private address, "
                "which a public URL may not reach; set ANYVIZ_ALLOW_PRIVATE_REDIRECTS=1 if you "
                "trust it")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def fetch(url: str, path: str, timeout_s: float) -> dict:
    """Download `url` to `path`; the `fetch` service's reply shape."""
    try:
        parts = _check_scheme(url)
        allowed = (os.environ.get("ANYVIZ_ALLOW_PRIVATE_REDIRECTS") == "1"
                   or _is_internal(parts.hostname or ""))
        opener = urllib.request.build_opener(_RedirectPolicy(allowed))
        request = urllib.request.Request(url, headers={"User-Agent": "anyviz"})
        cap = max_bytes()
        with opener.open(request, timeout=timeout_s) as r, open(path, "wb") as out:
            while chunk := r.read(1 << 20):
                if out.tell() + len(chunk) > cap:
                    raise DownloadRefused(
                        f"the download is larger than ANYVIZ_MAX_DOWNLOAD_MB "
                        f"({cap >> 20} MB); raise it if the file is expected to be this big")
                out.write(chunk)
            return {"status": "ok", "bytes": out.tell(), "http_code": r.status}
    except urllib.error.HTTPError as exc:
        return {"status": "error", "http_code": exc.code, "message": f"{url} answered HTTP {exc.code}"}
    except DownloadRefused as exc:
        _remove(path)
        return {"status": "error", "message": str(exc)}
    except (OSError, ValueError) as exc:
        _remove(path)
        return {"status": "error", "message": str(getattr(exc, "reason", exc))}


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass
