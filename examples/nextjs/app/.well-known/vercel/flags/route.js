// The Flags Discovery Endpoint: lets the Vercel Toolbar's Flags Explorer list this app's flags
// (it verifies the Toolbar's request with FLAGS_SECRET).
import { createFlagsDiscoveryEndpoint, getProviderData } from 'flags/next';
import { allFlags } from '../../../../flags';

export const GET = createFlagsDiscoveryEndpoint(() => getProviderData(allFlags));
