"""The baseline for the QR-form benchmark: a bare nameko HTTP handler on the same server stack
(eventlet, nameko's werkzeug web server), reading the same form and answering a small page.

``python -m tests.bench.bare_http <port>``
"""

import eventlet  # noqa: I001

eventlet.monkey_patch()

import sys  # noqa: E402

from nameko.cli.run import run  # noqa: E402
from nameko.web.handlers import http  # noqa: E402
from werkzeug.wrappers import Response  # noqa: E402


class BareService:
    name = "bare"

    @http("POST", "/q/station/<string:code>")
    def submit(self, request, code):
        form = request.form
        body = f"<!doctype html><p>{len(form.get('description', ''))}</p>"
        return Response(body, content_type="text/html; charset=utf-8")


if __name__ == "__main__":
    run([BareService], {"WEB_SERVER_ADDRESS": f"127.0.0.1:{sys.argv[1]}", "AMQP_URI": sys.argv[2]})
