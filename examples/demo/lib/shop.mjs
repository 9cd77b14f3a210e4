// The demo's little shop: one catalogue and one checkout, written once and served by the three versions
// (stable v1 inside the app, the canary v2 upstream, the shadow candidate), so every difference between them
// is one planted on purpose and named in services.mjs.

export const FLAG = 'checkout-v2';
export const SHADOW_TARGET = 'catalog-v2';
export const PRODUCT_COUNT = 200;

/** Products 1…200 with fixed prices; every fourth is on sale (the shadow candidate's planted bug lives there). */
export function product(id) {
  const cents = 499 + ((id * 7919) % 9500);
  return {
    id,
    name: `Product ${id}`,
    price: cents / 100,
    onSale: id % 4 === 0,
    currency: 'NZD',
  };
}

/** The product answer as v1 writes it. `servedAt` changes every time: the shadow diff ignores it. */
export function productResponse(id) {
  return { ...product(id), servedAt: new Date().toISOString() };
}

/** The stock check's own work: a few ms of waiting, in the inventory service (v1) or built into v2. */
export const CHECKOUT_WORK_MS = 3;

/** A checkout order: the same arithmetic in v1 and v2 (only v2's planted regression tells them apart). */
export function checkout(body, version) {
  const items = Array.isArray(body?.items) ? body.items : [];
  let total = 0;
  for (const item of items) {
    const p = product(Number(item?.id) || 1);
    total += p.price * Math.max(1, Math.min(9, Number(item?.qty) || 1));
  }
  return {
    version,
    userId: typeof body?.userId === 'string' ? body.userId : null,
    items: items.length,
    total: Math.round(total * 100) / 100,
    currency: 'NZD',
  };
}
