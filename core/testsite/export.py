"""Write the site as static files so nginx can serve the same link graph (benchmarks).

URL mapping (files without an extension are served as text/html by ``default_type``):

==================  ====================================
URL                 file
==================  ====================================
``/``               ``DIR/index.html`` (page 0)
``/page/N``         ``DIR/page/N``
``/private/P``      ``DIR/private/P``
``/robots.txt``     ``DIR/robots.txt``
==================  ====================================

``DIR/nginx.conf`` is a complete config: ``nginx -p DIR -c nginx.conf`` serves the site on
``127.0.0.1:<nginx_port>``; error pages answer 500 and ``/page/0`` 301 to ``/`` as live; the
request count is at ``/__nginx_status`` (stub_status). Without ``origin`` the absolute-link
spellings are written as plain paths (same targets); trap routes are not exported.
"""

from __future__ import annotations

from pathlib import Path

from core.testsite.site import Site, SiteConfig

_NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    default_type text/html;
    types {{ text/html html; text/plain txt; }}
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    client_body_temp_path {root}/tmp;
    proxy_temp_path {root}/tmp;
    fastcgi_temp_path {root}/tmp;
    uwsgi_temp_path {root}/tmp;
    scgi_temp_path {root}/tmp;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        index index.html;
        location = /__nginx_status {{ stub_status; }}
        location = /page/0 {{ return 301 /; }}
{errors}    }}
}}
"""


def export_site(
    config: SiteConfig, directory: str | Path, origin: str | None = None, nginx_port: int = 8080
) -> int:
    """Write every page, robots.txt and nginx.conf under ``directory``; returns the file count."""
    root = Path(directory).resolve()
    site = Site(config)
    (root / "page").mkdir(parents=True, exist_ok=True)
    (root / "tmp").mkdir(exist_ok=True)
    origin = origin.rstrip("/") if origin else None
    (root / "index.html").write_bytes(site.render_page(0, origin))
    errors = []
    for n in range(1, config.pages):
        (root / "page" / str(n)).write_bytes(site.render_page(n, origin))
        if site.is_error(n):
            errors.append(f"        location = /page/{n} {{ return 500; }}\n")
    if config.private_pages:
        (root / "private").mkdir(exist_ok=True)
        for p in range(config.private_pages):
            (root / "private" / str(p)).write_bytes(site.render_private(p))
    (root / "robots.txt").write_bytes(site.robots_txt())
    conf = _NGINX_CONF.format(root=root, port=nginx_port, errors="".join(errors))
    (root / "nginx.conf").write_text(conf)
    return config.pages + config.private_pages + 2
