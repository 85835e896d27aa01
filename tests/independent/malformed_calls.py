#!/usr/bin/env python3
"""An independent (non-Node, stdlib-only) client that sends malformed calls to every RPC of a
running Cypher over Connect (HTTP/1.1, JSON and binary) and gRPC-Web, and checks that

  * no answer is Internal or Unknown, except the transport's own answer to a body that does not
    parse as the request message ("parse binary: ...", or a compressed-flagged envelope without an
    encoding), which is what the gRPC status-code table prescribes;
  * no message carries a stack trace, a file path, SQL or a driver's name;
  * health (grpc.health.v1.Health/Check over Connect JSON) keeps answering SERVING.

Usage: malformed_calls.py BASE_URL [CALLS_PER_RPC] [SEED]
Prints one JSON summary line; exit status 0 when every answer was acceptable, 1 otherwise.
"""
import base64
import http.client
import json
import random
import re
import struct
import sys
import urllib.parse

RPCS = {
    "cypher.auth.v1.AuthService": {
        "RegisterInit": [("username", 1, "string"), ("registrationRequest", 2, "bytes")],
        "RegisterFinish": [("username", 1, "string"), ("registrationRecord", 2, "bytes")],
        "SetupTotp": [("enrollmentToken", 1, "string")],
        "VerifyTotpSetup": [("enrollmentToken", 1, "string"), ("code", 2, "string")],
        "LoginInit": [("username", 1, "string"), ("ke1", 2, "bytes")],
        "LoginFinish": [("loginId", 1, "string"), ("ke3", 2, "bytes")],
    },
    "cypher.session.v1.SessionService": {
        "CreateSession": [("loginToken", 1, "string"), ("totpCode", 2, "string"), ("recoveryCode", 3, "string"), ("deviceName", 4, "string")],
        "VerifySession": [("accessToken", 1, "string")],
        "RefreshSession": [("refreshToken", 1, "string")],
        "Logout": [("allSessions", 1, "bool")],
        "ListSessions": [],
        "RevokeSession": [("sessionId", 1, "string")],
        "GetPublicKeys": [],
    },
}
# Calls that may succeed on some generated input (their input can be valid by chance or is empty).
MAY_SUCCEED = {"RegisterInit", "RegisterFinish", "LoginInit", "GetPublicKeys"}
ALLOWED = {"invalid_argument", "unauthenticated", "resource_exhausted", "already_exists", "failed_precondition", "not_found"}
TRANSPORT_INTERNAL = re.compile(r"^(parse binary: |received compressed envelope, but do not know how to decompress$)")
TRANSPORT_PROTOCOL = re.compile(r"^protocol error: ")
LEAKS = [
    ("stack trace", re.compile(r"\n\s+at |\bat .+:\d+:\d+")),
    ("file path", re.compile(r"/(work|home|tmp|usr|node_modules|server|tests)/|\.(ts|js|mjs):\d")),
    ("SQL", re.compile(r"\b(select|insert into|delete from|relation \"|syntax error at|violates .* constraint|sqlstate)\b", re.I)),
    ("driver detail", re.compile(r"\b(ECONNREFUSED|ioredis|kysely|pg-pool|pglite|TypeError|ReferenceError|RangeError|cannot read prop)", re.I)),
]
GRPC_CODES = ["ok", "canceled", "unknown", "invalid_argument", "deadline_exceeded", "not_found", "already_exists",
              "permission_denied", "resource_exhausted", "failed_precondition", "aborted", "out_of_range", "unimplemented",
              "internal", "unavailable", "data_loss", "unauthenticated"]
HTTP_TO_CODE = {400: "invalid_argument", 401: "unauthenticated", 404: "not_found", 409: "already_exists",
                412: "failed_precondition", 415: "unsupported_media_type", 429: "resource_exhausted"}


class _NoAnswer:
    status = 0

    def getheader(self, _name, default=None):
        return default


class Fuzzer:
    def __init__(self, base_url, seed):
        u = urllib.parse.urlparse(base_url)
        self.host, self.port = u.hostname, u.port
        self.rng = random.Random(seed)
        self.conn = None
        self.calls = 0
        self.failures = []
        self.codes = {}

    # ---------------------------------------------------------------- transport
    def post(self, path, content_type, body, headers=None):
        h = {"content-type": content_type, "connect-protocol-version": "1"}
        h.update(headers or {})
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=float(__import__("os").environ.get("CALL_TIMEOUT_S", "30")))
            try:
                self.conn.request("POST", path, body=body, headers=h)
                res = self.conn.getresponse()
                data = res.read()
                if res.getheader("connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return res, data
            except TimeoutError:
                self.conn.close()
                self.conn = None
                self.failures.append({"path": path, "problem": "no answer within 30 s", "headers": h, "body": body[:300].hex() if isinstance(body, bytes) else repr(body)[:300]})
                return _NoAnswer(), b""
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A connection the server closed after saying so is fine; one it dropped silently is not.
                self.conn = None
                if attempt == 1:
                    raise
                self.failures.append({"path": path, "problem": "server dropped a keep-alive connection without Connection: close"})
        raise AssertionError("unreachable")

    # ---------------------------------------------------------------- generators
    def rand_bytes(self, lo=0, hi=200):
        return bytes(self.rng.getrandbits(8) for _ in range(self.rng.randint(lo, hi)))

    def opaque_like(self):
        n = self.rng.choice([0, 1, 31, 32, 33, 34, 97, 98, 99, 128, 129, 130, 259, self.rng.randint(0, 400)])
        b = bytearray(self.rand_bytes(n, n))
        if b and self.rng.random() < 0.6:
            b[0] = self.rng.choice([0x02, 0x03])
            if len(b) >= 33 and self.rng.random() < 0.5:
                b[1:33] = b"\xff" * 32  # x >= p: never a point
        return bytes(b)

    def hostile_string(self):
        choice = self.rng.random()
        if choice < 0.3:
            return "".join(chr(self.rng.randint(0x20, 0x7e)) for _ in range(self.rng.randint(0, 80)))
        if choice < 0.5:
            return "".join(chr(self.rng.randint(0, 0x2FFFF)) for _ in range(self.rng.randint(0, 30))
                           ).encode("utf-8", "surrogatepass").decode("utf-8", "replace")
        if choice < 0.6:
            return "x" * self.rng.randint(1000, 70000)
        if choice < 0.8:
            tail = base64.urlsafe_b64encode(self.rand_bytes(0, 150)).decode().rstrip("=")
            return self.rng.choice(["v4.public.", "v4.local.", "v3.public.", "", "k4.public."]) + tail
        return self.rng.choice(["", " ", "\u0000", "ab", "a" * 65, "' or 1=1 --", "'; drop table users; --", "${jndi:x}",
                                "../../etc/passwd", "<script>", "\u202e", "ＡＤＭＩＮ", "000000", "12345678901234567890"])

    def json_value(self, depth=0):
        kind = self.rng.randint(0, 7 if depth < 2 else 4)
        if kind == 0:
            return None
        if kind == 1:
            return self.rng.choice([True, False])
        if kind == 2:
            return self.rng.choice([0, -1, 1e308, 2**63, 3.5])
        if kind in (3, 4):
            return self.hostile_string()
        if kind == 5:
            return base64.b64encode(self.opaque_like()).decode()
        if kind == 6:
            return [self.json_value(depth + 1) for _ in range(self.rng.randint(0, 3))]
        return {self.hostile_string()[:10]: self.json_value(depth + 1) for _ in range(self.rng.randint(0, 3))}

    def json_body(self, fields):
        r = self.rng.random()
        if r < 0.15:
            return self.rand_bytes(0, 120)  # not JSON at all
        if r < 0.25:
            return self.rng.choice([b"{", b"[]", b"null", b'"x"', b"{}{}", b'{"a":', b"\xff\xfe"])
        body = {}
        for name, _, kind in fields:
            p = self.rng.random()
            if p < 0.2:
                continue  # missing field
            if p < 0.5:
                body[name] = self.json_value()  # wrong type, often
            elif kind == "bytes":
                body[name] = base64.b64encode(self.opaque_like()).decode()
            elif kind == "bool":
                body[name] = self.rng.choice([True, False, "true", 1])
            else:
                body[name] = self.hostile_string()
        if self.rng.random() < 0.2:
            body[self.hostile_string()[:20] or "unknownField"] = self.json_value()
        return json.dumps(body).encode()

    @staticmethod
    def varint(n):
        out = bytearray()
        while True:
            b = n & 0x7F
            n >>= 7
            if n:
                out.append(b | 0x80)
            else:
                out.append(b)
                return bytes(out)

    def proto_body(self, fields):
        r = self.rng.random()
        if r < 0.2:
            return self.rand_bytes(0, 200)
        out = bytearray()
        for name, number, kind in fields:
            if self.rng.random() < 0.2:
                continue
            if kind == "bool":
                out += self.varint(number << 3) + self.varint(self.rng.choice([0, 1, 2, 2**40]))
                continue
            if kind == "bytes":
                value = self.opaque_like()
            elif self.rng.random() < 0.3:
                value = bytes([0xC3, 0x28]) + self.rand_bytes(0, 20)  # invalid UTF-8 in a string field
            else:
                value = self.hostile_string().encode("utf-8", "replace")[:70000]
            wire = 2 if self.rng.random() < 0.9 else self.rng.randint(0, 7)
            length = len(value) if self.rng.random() < 0.85 else self.rng.randint(0, 2**32)
            out += self.varint((number << 3) | wire) + self.varint(length) + value
        if self.rng.random() < 0.15:
            out = out[: self.rng.randint(0, len(out))]  # truncated
        if self.rng.random() < 0.1:
            out += self.rand_bytes(1, 10)  # trailing junk
        return bytes(out)

    def envelope(self, payload):
        flags = self.rng.choice([0, 0, 0, 0, 1, 0x80])
        length = len(payload) if self.rng.random() < 0.8 else self.rng.randint(0, 2**32 - 1)
        framed = bytes([flags]) + struct.pack(">I", length) + payload
        if self.rng.random() < 0.1:
            framed = framed[: self.rng.randint(0, len(framed))]
        return framed

    def headers(self, method):
        h = {}
        if method in ("Logout", "ListSessions", "RevokeSession") or self.rng.random() < 0.1:
            if self.rng.random() < 0.85:
                token = "".join(chr(self.rng.randint(0x21, 0x7e)) for _ in range(self.rng.randint(0, 200)))
                h["authorization"] = self.rng.choice(["Bearer ", "Bearer v4.public.", "Basic ", "", "bearer  "]) + token
        if self.rng.random() < 0.05:
            h["connect-timeout-ms"] = self.rng.choice(["-1", "abc", "99999999999", "0"])
        return h

    # ---------------------------------------------------------------- checks
    def record(self, path, wire, code, message, http_status):
        self.calls += 1
        self.codes[code] = self.codes.get(code, 0) + 1
        method = path.rsplit("/", 1)[1]
        problem = None
        for what, pattern in LEAKS:
            if message and pattern.search(message):
                problem = "message leaks %s" % what
        if problem is None:
            if code == "internal" and TRANSPORT_INTERNAL.match(message or ""):
                pass
            elif code == "unimplemented" and TRANSPORT_PROTOCOL.match(message or ""):
                pass
            elif code == "unsupported_media_type" and http_status == 415:
                pass
            elif code == "ok":
                if method not in MAY_SUCCEED:
                    problem = "succeeded on malformed input"
            elif code not in ALLOWED:
                problem = "answered %s" % code
        if problem:
            self.failures.append({"path": path, "wire": wire, "code": code, "message": (message or "")[:200], "problem": problem})

    def connect_call(self, path, fields, binary):
        body = self.proto_body(fields) if binary else self.json_body(fields)
        ctype = "application/proto" if binary else "application/json"
        if self.rng.random() < 0.05:
            ctype = self.rng.choice(["text/plain", "application/xml", "application/x-www-form-urlencoded", "application/grpc-web-text"])
        res, data = self.post(path, ctype, body, self.headers(path.rsplit("/", 1)[1]))
        if res.status == 200:
            return self.record(path, ctype, "ok", "", 200)
        try:
            err = json.loads(data)
            code, message = err.get("code"), err.get("message", "")
        except ValueError:
            code, message = HTTP_TO_CODE.get(res.status, "http_%d" % res.status), data.decode("utf-8", "replace")
        self.record(path, ctype, code, message, res.status)

    def grpc_web_call(self, path, fields):
        body = self.envelope(self.proto_body(fields))
        res, data = self.post(path, "application/grpc-web+proto", body, dict(self.headers(path.rsplit("/", 1)[1]), **{"x-grpc-web": "1"}))
        status = res.getheader("grpc-status")
        message = res.getheader("grpc-message")
        if status is None:
            text = data.decode("latin-1")
            m = re.search(r"grpc-status: ?(\d+)", text)
            status = m.group(1) if m else None
            m = re.search(r"grpc-message: ?([^\r\n]*)", text)
            message = m.group(1) if m else ""
        message = urllib.parse.unquote(message or "")
        code = GRPC_CODES[int(status)] if status is not None and int(status) < len(GRPC_CODES) else "no_status_http_%d" % res.status
        self.record(path, "grpc-web", code, message, res.status)

    def health(self):
        res, data = self.post("/grpc.health.v1.Health/Check", "application/json", b"{}")
        ok = res.status == 200 and json.loads(data).get("status") == "SERVING"
        if not ok:
            self.failures.append({"path": "health", "problem": "health answered %d %r" % (res.status, data[:200])})
        return ok

    def run(self, calls_per_rpc):
        health_checks = 0
        for service, methods in RPCS.items():
            for method, fields in methods.items():
                path = "/%s/%s" % (service, method)
                for i in range(calls_per_rpc):
                    w = i % 3
                    if w == 0:
                        self.connect_call(path, fields, binary=False)
                    elif w == 1:
                        self.connect_call(path, fields, binary=True)
                    else:
                        self.grpc_web_call(path, fields)
                    if self.calls % 250 == 0:
                        self.health()
                        health_checks += 1
                self.health()
                health_checks += 1
        return health_checks


def main():
    base_url = sys.argv[1]
    per_rpc = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else random.randrange(2**32)
    f = Fuzzer(base_url, seed)
    health_checks = f.run(per_rpc)
    print(json.dumps({"seed": seed, "calls": f.calls, "healthChecks": health_checks, "codes": f.codes,
                      "failures": f.failures[:20], "failureCount": len(f.failures)}))
    sys.exit(1 if f.failures else 0)


if __name__ == "__main__":
    main()
