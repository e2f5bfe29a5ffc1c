/**
 * zod/mini says what full zod says: its English messages, for the schemas of the functions whose bundles must stay
 * small (the PSP's events, the seller and pay-out requests), which check with zod/mini rather than full zod's method
 * chains (about 70 KB of a bundle). Imported for its effect, before a schema parses. Full zod configures the same
 * locale when it loads; doing it here too is harmless where both are loaded (the local stack, the tests).
 */

import { en } from 'zod/locales';
import { config } from 'zod/mini';

config(en());
