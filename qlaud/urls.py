from __future__ import annotations

from django.contrib import admin
from django.contrib.sitemaps.views import sitemap
from django.urls import include, path, re_path

from api.urls import docs_urlpatterns as management_api_docs
from qlaud import views
from qlaud.sitemaps import SITEMAPS

# Settings use SimpleAdminConfig: the apps' admin modules (dj-stripe's alone is large) load here,
# with the site's URLconf, so a worker that only serves the gateway's paths never loads them.
admin.autodiscover()

urlpatterns = [
    path("", views.home, name="home"),
    path("partials/ttft-board/", views.ttft_board, name="ttft_board"),
    path("docs/", views.docs_index, name="docs"),
    path("docs/management-api/", include(management_api_docs)),
    path("docs/<slug:slug>/", views.docs_page, name="docs_page"),
    path("security", views.security, name="security"),
    path("status", views.status, name="status"),
    path("v1/status", views.api_status, name="api_status"),
    path("llms.txt", views.llms_txt, name="llms_txt"),
    path("robots.txt", views.robots_txt, name="robots_txt"),
    path(".well-known/security.txt", views.security_txt, name="security_txt"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("sitemap.xml", sitemap, {"sitemaps": SITEMAPS}, name="django.contrib.sitemaps.views.sitemap"),
    path("blog/", include("blog.urls")),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    # The overview is the site helper's view; it sits before accounts.urls so it wins for /dashboard/.
    path("dashboard/", views.dashboard_overview, name="dashboard"),
    path("dashboard/", include("accounts.urls")),
    path("stripe/", include("djstripe.urls", namespace="djstripe")),
    path("api/v1/", include("api.urls")),
    path("", include("wallet.urls")),
    path("", include("catalog.urls")),
    path("", include("gateway.urls")),
]

# Keep LAST: any other /v1/ path is an API 404 in JSON, not the HTML page.
urlpatterns.append(re_path(r"^v1/", views.v1_not_found, name="v1_not_found"))

handler404 = "qlaud.views.page_not_found"
handler500 = "qlaud.views.server_error"
