"""Lianxin (连心): four nameko services over RabbitMQ and the kernel they share."""

import warnings

# Known and harmless on the pinned stack (docs/running.md): eventlet's notice that it is in
# maintenance mode, and nameko 2.14's use of pkg_resources.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
