"""The ``@http`` entrypoint every service uses: nameko's, answering in the one error format
(``services.kernel.http``) also where no handler of ours runs.

nameko answers an address no route matches, or a method a route does not take, with werkzeug's
HTML page, and a fault before the handler (a path that does not fit its signature) with
``text/plain`` naming the exception. Here those leave as ``{"error": …}`` too: 404
``not_found``, 405 ``method_not_allowed`` (with ``Allow``), 500 ``internal`` (logged, nothing of
the exception in the body). Redirects werkzeug's routing makes (a missing trailing slash) pass.
Every service imports ``http`` from here, so one web server serves them all, as with nameko's.
"""

from __future__ import annotations

import logging

from nameko.web.handlers import HttpRequestHandler as NamekoHandler
from nameko.web.server import WebServer as NamekoServer
from nameko.web.server import WsgiApp as NamekoApp
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request

from services.kernel.http import as_api_error, internal

log = logging.getLogger(__name__)


def _answer(exc: HTTPException):
    """werkzeug's refusal in the one format; its redirects as they are."""
    if exc.code is None or not 400 <= exc.code < 500:
        return exc
    response = as_api_error(exc).response()
    for name, value in exc.get_headers():
        if name.lower() == "allow":
            response.headers[name] = value
    return response


class WsgiApp(NamekoApp):
    def __call__(self, environ, start_response):
        request = Request(environ, shallow=True)  # as nameko: nobody reads the body yet
        adapter = self.url_map.bind_to_environ(environ)
        try:
            provider, values = adapter.match()
            request.path_values = values
            answer = provider.handle_request(request)
        except HTTPException as exc:
            answer = _answer(exc)
        return answer(environ, start_response)


class WebServer(NamekoServer):
    def get_wsgi_app(self):
        return WsgiApp(self)


class HttpRequestHandler(NamekoHandler):
    server = WebServer()

    def response_from_exception(self, exc):
        err = as_api_error(exc)
        if err is None:
            log.error("%s before its handler ran", self.url, exc_info=exc)
            err = internal()
        return err.response()


http = HttpRequestHandler.decorator
