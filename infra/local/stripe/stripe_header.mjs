// The `Stripe-Signature` header Stripe's official library makes for a payload, as Stripe
// signs deliveries: `node stripe_header.mjs <secret> <unix time>` with the payload on stdin.
// The tests (tests/tests/api/webhooks.rs) post the payload with this header to our webhook.
import Stripe from "stripe";

const [secret, timestamp] = process.argv.slice(2);
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const payload = Buffer.concat(chunks).toString("utf8");
const stripe = new Stripe("sk_test_unused");
process.stdout.write(stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp: Number(timestamp) }));
