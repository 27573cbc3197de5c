// The app's feature flags (Flags SDK, `flags/next`). Each flag's value comes from `decide()` unless
// the request carries a `vercel-flag-overrides` cookie sealed with FLAGS_SECRET: the cookie the
// Vercel Toolbar sets, and the one ci-in-preview's `flags/encrypt-override` endpoint issues for e2e
// runs. The defaults live in lib/flag-defaults.json so the e2e check knows them too.
import { flag } from 'flags/next';
import defaults from './lib/flag-defaults.json';

export const newCheckout = flag({
  key: 'newCheckout',
  description: 'The redesigned checkout',
  defaultValue: defaults.newCheckout,
  options: [false, true],
  decide: () => defaults.newCheckout,
});

export const checkoutVariant = flag({
  key: 'checkoutVariant',
  description: 'Colour of the checkout button',
  defaultValue: defaults.checkoutVariant,
  options: ['control', 'blue', 'green'],
  decide: () => defaults.checkoutVariant,
});

export const maxItems = flag({
  key: 'maxItems',
  description: 'Items shown per page',
  defaultValue: defaults.maxItems,
  options: [3, 10, 50],
  decide: () => defaults.maxItems,
});

/** Every flag, by key: what the page evaluates and what the Flags Explorer discovers. */
export const allFlags = { newCheckout, checkoutVariant, maxItems };
