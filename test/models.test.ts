// The models in one process (test/helpers/test-group.ts): MTCNN detection, the embedder contract
// and the model build, conversion and quantisation, on the real weights.
import './models/embedder-contract.test.js';
import './models/mobilefacenet-convert.test.js';
import './models/mtcnn-detect.test.js';
import './models/quantize.test.js';
import { checkGroup } from './helpers/test-group.js';

checkGroup(new URL('./models/', import.meta.url), ['embedder-contract', 'mobilefacenet-convert', 'mtcnn-detect', 'quantize']);
