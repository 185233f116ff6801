from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def home(request: HttpRequest) -> HttpResponse:
    if request.method == "HEAD":
        return HttpResponse()
    return render(request, "home.html")
