//! A small webshop-like database (users, colors, sizes, products, orders) for the
//! end-to-end tests and the demo: the seed runbook's scenario in miniature.

use anyhow::Result;

use crate::postgres::TestPostgres;

/// The tables [`seed`] creates, as `schema.table`, sorted.
pub const TABLES: [&str; 5] = [
    "public.colors",
    "public.orders",
    "public.products",
    "public.sizes",
    "public.users",
];

/// Row counts per table for `orders` orders: `(table, rows)` in [`TABLES`] order.
pub fn expected_rows(orders: u32) -> Vec<(&'static str, i64)> {
    let orders = i64::from(orders);
    vec![
        ("public.colors", 6),
        ("public.orders", orders),
        ("public.products", 120),
        ("public.sizes", 5),
        ("public.users", (orders / 4).max(1)),
    ]
}

/// Creates the webshop schema in `db` (which must exist) and fills it with
/// deterministic data: `orders` orders by `orders / 4` users over 120 products.
pub fn seed(pg: &TestPostgres, db: &str, orders: u32) -> Result<()> {
    let users = (orders / 4).max(1);
    pg.psql(
        db,
        &format!(
            r#"
CREATE TABLE users (id serial PRIMARY KEY, email text UNIQUE NOT NULL, name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT '2026-01-01T00:00:00Z');
CREATE TABLE colors (id serial PRIMARY KEY, name text UNIQUE NOT NULL, hex text NOT NULL);
CREATE TABLE sizes (id serial PRIMARY KEY, label text UNIQUE NOT NULL, sort int NOT NULL);
CREATE TABLE products (id serial PRIMARY KEY, sku text UNIQUE NOT NULL, name text NOT NULL,
  price numeric(10,2) NOT NULL, color_id int NOT NULL REFERENCES colors,
  size_id int NOT NULL REFERENCES sizes, attributes jsonb NOT NULL DEFAULT '{{}}');
CREATE TABLE orders (id bigserial PRIMARY KEY, user_id int NOT NULL REFERENCES users,
  product_id int NOT NULL REFERENCES products, quantity int NOT NULL,
  total numeric(12,2) NOT NULL, placed_at timestamptz NOT NULL, note text);
INSERT INTO colors (name, hex) VALUES ('black', '#000000'), ('white', '#ffffff'),
  ('red', '#c0392b'), ('navy', '#1f3a93'), ('olive', '#708238'), ('sand', '#c2b280');
INSERT INTO sizes (label, sort) VALUES ('XS', 1), ('S', 2), ('M', 3), ('L', 4), ('XL', 5);
INSERT INTO users (email, name)
  SELECT 'user' || g || '@webshop.test', 'User ' || g || E' O''Neil' FROM generate_series(1, {users}) g;
INSERT INTO products (sku, name, price, color_id, size_id, attributes)
  SELECT 'TS-' || lpad(g::text, 4, '0'), 'T-shirt ' || g, (9.99 + g % 30)::numeric(10,2),
         1 + g % 6, 1 + g % 5, jsonb_build_object('fabric', 'cotton', 'fit', g % 3)
  FROM generate_series(1, 120) g;
INSERT INTO orders (user_id, product_id, quantity, total, placed_at, note)
  SELECT 1 + g % {users}, 1 + g % 120, 1 + g % 4, ((1 + g % 4) * (9.99 + (1 + g % 120) % 30))::numeric(12,2),
         '2026-01-01T00:00:00Z'::timestamptz + g * interval '1 minute',
         CASE WHEN g % 10 = 0 THEN E'gift wrap\nplease' END
  FROM generate_series(1, {orders}) g;
ANALYZE;
"#
        ),
    )?;
    Ok(())
}
