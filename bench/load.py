#!/usr/bin/env python3
"""Loads the standard benchmark catalog into a running StateSet through its public REST API,
and prepares what the scenarios rotate over. Standard library only.

    load.py catalog BASE TOKEN DATA_DIR      1,000 products, 3 sizes each, 100,000 in stock
    load.py carts   BASE DATA_DIR COUNT      guest carts, one "token variant" line each
    load.py orders  BASE TOKEN DATA_DIR MIN  places orders until there are at least MIN
    load.py checkouts BASE TOKEN FILE COUNT  COUNT guest checkouts ready to complete, one id a line

The catalog (with the customer the orders are for): products `Peer Product 0001`... with slugs `product-0001`..., sizes S/M/L with
SKUs `PEER-0001-S`..., the k-th size priced 5 + (i mod 200) + (i mod 7)*0.25 + 2k USD, and
100,000 units of each at one location. Loading again creates nothing twice.
"""

import json
import os
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

PRODUCTS = int(os.environ.get("BENCH_PRODUCTS", "1000"))
SIZES = ["S", "M", "L"]
STOCK = 100_000
WORKERS = 8


def call(base, method, path, token=None, body=None, ok=(200, 201)):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    answer = json.loads(raw) if raw else None
    if status not in ok:
        raise SystemExit(f"{method} {path}: {status} {raw[:400]!r}")
    return status, answer


def price(i, k):
    return Decimal(5 + i % 200) + Decimal(i % 7) * Decimal("0.25") + 2 * k


def product_body(i):
    return {
        "name": f"Peer Product {i:04d}",
        "slug": f"product-{i:04d}",
        "description": f"Benchmark product number {i}.",
        "status": "active",
        "variants": [
            {
                "sku": f"PEER-{i:04d}-{size}",
                "title": size,
                "options": [{"name": "Size", "value": size}],
                "price": {"amount": str(price(i, k)), "currency": "USD"},
                "position": k,
            }
            for k, size in enumerate(SIZES)
        ],
    }


def every_page(base, token, path):
    """All items of a paged REST list."""
    items, cursor = [], None
    while True:
        join = "&" if "?" in path else "?"
        url = f"{path}{join}limit=100" + (f"&cursor={cursor}" if cursor else "")
        _, page = call(base, "GET", url, token)
        items.extend(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            return items


def location(base, token):
    _, listed = call(base, "GET", "/api/v1/locations", token)
    for found in listed["items"]:
        if found["code"] == "BENCH-WH":
            return found["id"]
    _, made = call(
        base,
        "POST",
        "/api/v1/locations",
        token,
        {"code": "BENCH-WH", "name": "Benchmark warehouse", "kind": "warehouse"},
    )
    return made["id"]


def customer(base, token):
    """The buyer of the benchmark's orders."""
    email = "bench-buyer@example.com"
    _, found = call(base, "GET", f"/api/v1/customers?q={email}", token)
    for existing in found["items"]:
        if existing["email"] == email:
            return existing["id"]
    _, made = call(base, "POST", "/api/v1/customers", token, {"email": email, "first_name": "Bench"})
    return made["id"]


def catalog(base, token, data_dir):
    warehouse = location(base, token)
    buyer = customer(base, token)
    existing = {p["slug"]: p for p in every_page(base, token, "/api/v1/products")}

    def make(i):
        slug = f"product-{i:04d}"
        if slug in existing:
            return existing[slug]
        _, made = call(base, "POST", "/api/v1/products", token, product_body(i))
        return made

    with ThreadPoolExecutor(WORKERS) as pool:
        products = list(pool.map(make, range(1, PRODUCTS + 1)))
    variants = [v["id"] for p in products for v in p["variants"]]
    stocked = {
        item["variant_id"]
        for item in every_page(base, token, f"/api/v1/inventory?location_id={warehouse}")
        if item["on_hand"] > 0
    }

    def receive(variant):
        if variant not in stocked:
            call(
                base,
                "POST",
                "/api/v1/inventory/receive",
                token,
                {"variant_id": variant, "location_id": warehouse, "quantity": STOCK},
            )

    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(receive, variants))
    os.makedirs(data_dir, exist_ok=True)
    with open(os.path.join(data_dir, "slugs.txt"), "w") as out:
        out.writelines(f"{p['slug']}\n" for p in products)
    with open(os.path.join(data_dir, "variants.txt"), "w") as out:
        out.writelines(f"{v}\n" for v in variants)
    with open(os.path.join(data_dir, "customer.txt"), "w") as out:
        out.write(buyer + "\n")
    print(f"catalog: {len(products)} products, {len(variants)} variants in stock", file=sys.stderr)


def carts(base, data_dir, count):
    with open(os.path.join(data_dir, "variants.txt")) as f:
        variants = [line.strip() for line in f if line.strip()]

    def make(n):
        _, cart = call(base, "POST", "/api/v1/carts", None, {})
        return f"{cart['token']} {variants[(n * 23) % len(variants)]}"

    with ThreadPoolExecutor(WORKERS) as pool:
        lines = list(pool.map(make, range(count)))
    with open(os.path.join(data_dir, "carts.txt"), "w") as out:
        out.writelines(line + "\n" for line in lines)
    print(f"carts: {count} guest carts", file=sys.stderr)


def orders(base, token, data_dir, minimum):
    with open(os.path.join(data_dir, "variants.txt")) as f:
        variants = [line.strip() for line in f if line.strip()]
    with open(os.path.join(data_dir, "customer.txt")) as f:
        buyer = f.read().strip()
    _, first = call(base, "GET", "/api/v1/orders?limit=1", token)
    missing = max(0, minimum - first["total_count"])

    def place(n):
        call(
            base,
            "POST",
            "/api/v1/orders",
            token,
            {
                "customer_id": buyer,
                "items": [{"variant_id": variants[n % len(variants)], "quantity": 1}],
                "shipping_address": {
                    "line1": "1 Bench St",
                    "city": "Austin",
                    "region": "TX",
                    "postal_code": "78701",
                    "country": "US",
                },
            },
        )

    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(place, range(missing)))
    print(f"orders: {first['total_count'] + missing} in all ({missing} placed now)", file=sys.stderr)


def shipping_method(base, token):
    """The benchmark's flat-rate method, made once."""
    _, listed = call(base, "GET", "/api/v1/shipping-methods", token)
    for found in listed["items"]:
        if found["name"] == "Bench Standard":
            return found["id"]
    body = {
        "name": "Bench Standard", "carrier": "bench", "service": "ground", "kind": "flat",
        "rate": "5.00", "currency": "USD", "min_days": 2, "max_days": 5, "countries": ["US"],
    }
    _, made = call(base, "POST", "/api/v1/shipping-methods", token, body)
    return made["id"]


ADDRESS = {
    "first_name": "Bench", "last_name": "Buyer", "line1": "1 Bench St", "city": "Austin",
    "region": "TX", "postal_code": "78701", "country": "US",
}
CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2035, "cvc": "123"}


def checkouts(base, token, path, count):
    """Guest checkouts of one line each, with address, shipping and a test-card token: all that
    completing needs. Each can be completed once, so every scenario phase gets its own."""
    data_dir = os.path.dirname(path)
    with open(os.path.join(data_dir, "variants.txt")) as f:
        variants = [line.strip() for line in f if line.strip()]
    method = shipping_method(base, token)

    def make(n):
        item = {"variant_id": variants[(n * 31) % len(variants)], "quantity": 1}
        _, cart = call(base, "POST", "/api/v1/carts", None, {"items": [item]})
        _, started = call(base, "POST", "/api/v1/checkout", None,
                          {"cart_id": cart["token"], "email": f"bench-{n}@example.com"})
        _, card = call(base, "POST", "/api/v1/payments/tokens", None, CARD)
        _, ready = call(base, "PUT", f"/api/v1/checkout/{started['id']}", None, {
            "shipping_address": ADDRESS, "shipping_method_id": method, "payment_token": card["id"],
        })
        if ready["missing"]:
            raise SystemExit(f"checkout {started['id']} still needs {ready['missing']}")
        return started["id"]

    with ThreadPoolExecutor(WORKERS) as pool:
        ids = list(pool.map(make, range(count)))
    with open(path, "w") as out:
        out.writelines(f"{i}\n" for i in ids)
    print(f"checkouts: {count} ready to complete in {os.path.basename(path)}", file=sys.stderr)


def main(argv):
    if len(argv) == 5 and argv[1] == "catalog":
        catalog(argv[2], argv[3], argv[4])
    elif len(argv) == 5 and argv[1] == "carts":
        carts(argv[2], argv[3], int(argv[4]))
    elif len(argv) == 6 and argv[1] == "orders":
        orders(argv[2], argv[3], argv[4], int(argv[5]))
    elif len(argv) == 6 and argv[1] == "checkouts":
        checkouts(argv[2], argv[3], argv[4], int(argv[5]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
