/**
 * The one in-memory fake client lives in src/kube/testing/fake-client.ts; this path stays
 * for the src/cli tests until they import it from there.
 */
export { FakeKubeClient } from '../../kube/testing/fake-client.js';
