"""``chunkwise demo``: the main job on a default dataset (filled in below)."""


def add_parser(sub):
    p = sub.add_parser("demo", help="run the demo job")
    p.set_defaults(func=lambda args: 0)
