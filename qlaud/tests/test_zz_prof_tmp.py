import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from qlaud.tests.test_performance import month_of_traffic  # noqa: F401


@pytest.mark.django_db
def test_prof(client, alice, org_a, month_of_traffic):  # noqa: F811
    client.force_login(alice)
    client.get("/dashboard/")
    with CaptureQueriesContext(connection) as ctx:
        t = time.perf_counter()
        client.get("/dashboard/")
        print("total", round((time.perf_counter() - t) * 1000))
    for q in ctx.captured_queries:
        print(q["time"], q["sql"][:150])
