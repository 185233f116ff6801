"""The ground floor: infrastructure every app uses (thread pool, batched inserts, Redis clients, JSON I/O).

Nothing here imports an app of this project; apps import from here, never the reverse.
"""
