import { tortureSuite } from './torture.js';

// See torture-a: the second half of the 30 kill points, from seed + 1000.
tortureSuite('B', 1000);
