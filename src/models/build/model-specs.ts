// Manifest facts for the models facegate builds itself: provenance, licences and input specs.
import type { ModelEntry } from '../manifest.js';
import { DTN_WEIGHTS, MOBILEFACENET_WEIGHTS, MTCNN_WEIGHTS } from '../sources/pinned.js';

type Spec = Omit<ModelEntry, 'id' | 'file' | 'sha256' | 'precision' | 'source'>;

const MTCNN_TRAINING =
  'Trained by Zhang et al. (2016) on WIDER FACE (faces) and CelebA (landmarks); WIDER FACE is for research use, CelebA non-commercial research only.';
const MTCNN_LICENCE = `MIT (weights by K. Zhang et al., via npm ${MTCNN_WEIGHTS.name}@${MTCNN_WEIGHTS.version}, MIT)`;
const MTCNN_NORM = { kind: 'linear' as const, mean: 127.5, scale: 0.0078125 };

export const MTCNN_SPECS: Record<'pnet' | 'rnet' | 'onet', Spec> = {
  pnet: {
    role: 'detector-pnet',
    family: 'mtcnn',
    licence: MTCNN_LICENCE,
    trainingData: MTCNN_TRAINING,
    input: { name: 'input', layout: 'NCHW', shape: ['batch', 3, 'height', 'width'], colour: 'RGB', normalisation: MTCNN_NORM, crop: { method: 'none' } },
    outputs: [
      { name: 'prob', meaning: '[N,2,H\',W\'] softmax (background, face) per 12x12 window, stride 2' },
      { name: 'bbox_reg', meaning: '[N,4,H\',W\'] box offsets dx1,dy1,dx2,dy2 as fractions of the window' },
    ],
  },
  rnet: {
    role: 'detector-rnet',
    family: 'mtcnn',
    licence: MTCNN_LICENCE,
    trainingData: MTCNN_TRAINING,
    input: { name: 'input', layout: 'NCHW', shape: ['batch', 3, 24, 24], colour: 'RGB', normalisation: MTCNN_NORM, crop: { method: 'none' } },
    outputs: [
      { name: 'prob', meaning: '[N,2] softmax (background, face)' },
      { name: 'bbox_reg', meaning: '[N,4] box offsets dx1,dy1,dx2,dy2 as fractions of the crop' },
    ],
  },
  onet: {
    role: 'detector-onet',
    family: 'mtcnn',
    licence: MTCNN_LICENCE,
    trainingData: MTCNN_TRAINING,
    input: { name: 'input', layout: 'NCHW', shape: ['batch', 3, 48, 48], colour: 'RGB', normalisation: MTCNN_NORM, crop: { method: 'none' } },
    outputs: [
      { name: 'prob', meaning: '[N,2] softmax (background, face)' },
      { name: 'bbox_reg', meaning: '[N,4] box offsets dx1,dy1,dx2,dy2 as fractions of the crop' },
      { name: 'landmarks', meaning: '[N,10] x1..x5 then y1..y5 as fractions of the crop: eyes, nose, mouth corners' },
    ],
  },
};

export const MOBILEFACENET_SPEC: Spec = {
  role: 'embedder',
  family: 'mobilefacenet',
  licence: `Apache-2.0 (sirius-ai/MobileFaceNet_TF code and weights), shipped in npm ${MOBILEFACENET_WEIGHTS.name}@${MOBILEFACENET_WEIGHTS.version} (MIT)`,
  trainingData:
    'Trained on MS-Celeb-1M (refined, MS1M/emore), a data set withdrawn by Microsoft in 2019 and distributed for non-commercial research use only; check your use against it.',
  input: {
    name: 'input',
    layout: 'NCHW',
    shape: ['batch', 3, 112, 112],
    colour: 'RGB',
    normalisation: { kind: 'linear', mean: 127.5, scale: 0.0078125 },
    crop: { method: 'similarity-5pt', template: 'arcface-112' },
  },
  outputs: [{ name: 'embedding', meaning: '[N,192] face embedding; L2-normalise, compare by L2 distance or cosine' }],
  embeddingDim: 192,
};

export const DTN_SPEC: Spec = {
  role: 'anti-spoof',
  family: 'dtn',
  licence: `MIT (as shipped in npm ${DTN_WEIGHTS.name}@${DTN_WEIGHTS.version}); architecture: Deep Tree Network, Liu et al., CVPR 2019`,
  trainingData:
    'Not stated by the package. The Deep Tree Network paper trains on SiW-M (MSU, research use only); assume research-use terms and check before commercial use.',
  input: {
    name: 'input',
    layout: 'NCHW',
    shape: ['batch', 3, 256, 256],
    colour: 'RGB',
    normalisation: { kind: 'linear', mean: 0, scale: 1 / 255 },
    crop: { method: 'none' },
  },
  outputs: [
    { name: 'clss_pred', meaning: '[N,8] per-leaf spoof evidence' },
    { name: 'leaf_node_mask', meaning: '[N,8] one-hot: the leaf the tree routed the face to' },
    { name: 'spoof_score', meaning: '[N] sum |clss_pred| x leaf_node_mask; higher = more likely a presentation attack (the package cuts at 0.2)' },
  ],
  notes: 'Crop: the MTCNN box made square around its centre and shifted inside the frame (src/liveness/face-crop.ts), resized to 256x256.',
};
