// Auth.js's routes (/api/auth/signin, /api/auth/session, ...).
import { handlers } from '../../../../auth';

export const { GET, POST } = handlers;
