"""The request log: one row per gateway request, written by the gateway, read by every app that reports on traffic.

It sits on its own floor, just above accounts (its rows belong to an org and a key), so the wallet
(reconciling holds, usage rollups), the catalog (host stats) and the site pages read it without
reaching up into the gateway. This package is the one door to it: `RequestLog` and its queries.
"""
