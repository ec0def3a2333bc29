// Builds P-Net, R-Net and O-Net ONNX graphs from the original MTCNN weights.
//
// The nets were trained in Matlab/Caffe on transposed images (H and W swapped), so each graph
// starts with a Transpose and the detector feeds ordinary NCHW RGB crops. R/O-Net flatten the
// last feature map in TensorFlow's NHWC order of that transposed map, as the dense weights expect.
// Input normalisation (x - 127.5) * 0.0078125 stays outside the graph and is written to the manifest.
import { OnnxGraphBuilder, attr } from '../../onnx/graph.js';
import { denseToOutIn, hwioToOihw, type WeightTensor } from './face-api-weights.js';

type Weights = Map<string, WeightTensor>;

class MtcnnGraph {
  readonly g: OnnxGraphBuilder;
  constructor(
    private readonly net: 'pnet' | 'rnet' | 'onet',
    private readonly weights: Weights,
  ) {
    this.g = new OnnxGraphBuilder(net);
  }

  private w(name: string): WeightTensor {
    const t = this.weights.get(`${this.net}/${name}`);
    if (!t) throw new Error(`MTCNN weights: ${this.net}/${name} not found`);
    return t;
  }

  conv(x: string, layer: string): string {
    const k = hwioToOihw(this.w(`${layer}/weights`));
    const b = this.w(`${layer}/bias`);
    const wName = this.g.initializer(`${layer}.weight`, k.data, k.shape);
    const bName = this.g.initializer(`${layer}.bias`, b.data, b.shape);
    return this.g.node('Conv', [x, wName, bName], {
      name: layer,
      outputs: [layer],
      attrs: { kernel_shape: attr.ints(k.shape.slice(2)), strides: attr.ints([1, 1]), pads: attr.ints([0, 0, 0, 0]) },
    })[0]!;
  }

  dense(x: string, layer: string): string {
    const k = denseToOutIn(this.w(`${layer}/weights`));
    const b = this.w(`${layer}/bias`);
    const wName = this.g.initializer(`${layer}.weight`, k.data, k.shape);
    const bName = this.g.initializer(`${layer}.bias`, b.data, b.shape);
    return this.g.node('Gemm', [x, wName, bName], { name: layer, outputs: [layer], attrs: { transB: attr.int(1) } })[0]!;
  }

  prelu(x: string, alphaName: string, spatial: boolean): string {
    const a = this.w(alphaName);
    // Conv maps are [N, C, H, W]: the slope broadcasts as [C, 1, 1]; dense outputs are [N, C].
    const slope = this.g.initializer(`${alphaName}`, a.data, spatial ? [a.data.length, 1, 1] : [a.data.length]);
    return this.g.node('PRelu', [x, slope], { name: `${alphaName}_prelu`, outputs: [`${alphaName}_out`] })[0]!;
  }

  maxPool(x: string, name: string, k: number, s: number, same: boolean): string {
    return this.g.node('MaxPool', [x], {
      name,
      outputs: [name],
      attrs: {
        kernel_shape: attr.ints([k, k]),
        strides: attr.ints([s, s]),
        // TF 'SAME' max-pooling pads at the end, which is ONNX SAME_UPPER.
        ...(same ? { auto_pad: attr.string('SAME_UPPER') } : { pads: attr.ints([0, 0, 0, 0]) }),
      },
    })[0]!;
  }

  transposeInput(input: string): string {
    return this.g.node('Transpose', [input], { name: 'to_transposed_image', outputs: ['transposed'], attrs: { perm: attr.ints([0, 1, 3, 2]) } })[0]!;
  }

  flattenTfOrder(x: string): string {
    const nhwc = this.g.node('Transpose', [x], { name: 'to_nhwc', outputs: ['nhwc'], attrs: { perm: attr.ints([0, 2, 3, 1]) } })[0]!;
    return this.g.node('Flatten', [nhwc], { name: 'flatten', outputs: ['flat'], attrs: { axis: attr.int(1) } })[0]!;
  }
}

export interface ConvertedNet {
  name: 'pnet' | 'rnet' | 'onet';
  bytes: Uint8Array;
  outputs: string[];
}

const META = (net: string) => ({
  producer: 'facegate',
  docString: `MTCNN ${net} (Zhang et al. 2016), converted from face-api.js weights by facegate`,
});

export function convertPnet(weights: Weights): ConvertedNet {
  const m = new MtcnnGraph('pnet', weights);
  const { g } = m;
  const input = g.input('input', ['batch', 3, 'height', 'width']);
  let x = m.transposeInput(input);
  x = m.prelu(m.conv(x, 'conv1'), 'prelu1_alpha', true);
  x = m.maxPool(x, 'pool1', 2, 2, true);
  x = m.prelu(m.conv(x, 'conv2'), 'prelu2_alpha', true);
  x = m.prelu(m.conv(x, 'conv3'), 'prelu3_alpha', true);
  const logits = m.conv(x, 'conv4_1');
  const reg = m.conv(x, 'conv4_2');
  const probT = g.node('Softmax', [logits], { name: 'softmax', outputs: ['prob_t'], attrs: { axis: attr.int(1) } })[0]!;
  // Back to image orientation: [N, C, H', W'].
  g.node('Transpose', [probT], { name: 'prob_back', outputs: ['prob'], attrs: { perm: attr.ints([0, 1, 3, 2]) } });
  g.node('Transpose', [reg], { name: 'reg_back', outputs: ['bbox_reg'], attrs: { perm: attr.ints([0, 1, 3, 2]) } });
  g.output('prob', ['batch', 2, 'map_height', 'map_width']);
  g.output('bbox_reg', ['batch', 4, 'map_height', 'map_width']);
  return { name: 'pnet', bytes: g.build(META('P-Net')), outputs: ['prob', 'bbox_reg'] };
}

export function convertRnet(weights: Weights): ConvertedNet {
  const m = new MtcnnGraph('rnet', weights);
  const { g } = m;
  const input = g.input('input', ['batch', 3, 24, 24]);
  let x = m.transposeInput(input);
  x = m.prelu(m.conv(x, 'conv1'), 'prelu1_alpha', true);
  x = m.maxPool(x, 'pool1', 3, 2, true);
  x = m.prelu(m.conv(x, 'conv2'), 'prelu2_alpha', true);
  x = m.maxPool(x, 'pool2', 3, 2, false);
  x = m.prelu(m.conv(x, 'conv3'), 'prelu3_alpha', true);
  x = m.prelu(m.dense(m.flattenTfOrder(x), 'fc1'), 'prelu4_alpha', false);
  const logits = m.dense(x, 'fc2_1');
  const reg = m.dense(x, 'fc2_2');
  g.node('Softmax', [logits], { name: 'softmax', outputs: ['prob'], attrs: { axis: attr.int(1) } });
  g.node('Identity', [reg], { name: 'reg_out', outputs: ['bbox_reg'] });
  g.output('prob', ['batch', 2]);
  g.output('bbox_reg', ['batch', 4]);
  return { name: 'rnet', bytes: g.build(META('R-Net')), outputs: ['prob', 'bbox_reg'] };
}

export function convertOnet(weights: Weights): ConvertedNet {
  const m = new MtcnnGraph('onet', weights);
  const { g } = m;
  const input = g.input('input', ['batch', 3, 48, 48]);
  let x = m.transposeInput(input);
  x = m.prelu(m.conv(x, 'conv1'), 'prelu1_alpha', true);
  x = m.maxPool(x, 'pool1', 3, 2, true);
  x = m.prelu(m.conv(x, 'conv2'), 'prelu2_alpha', true);
  x = m.maxPool(x, 'pool2', 3, 2, false);
  x = m.prelu(m.conv(x, 'conv3'), 'prelu3_alpha', true);
  x = m.maxPool(x, 'pool3', 2, 2, true);
  x = m.prelu(m.conv(x, 'conv4'), 'prelu4_alpha', true);
  x = m.prelu(m.dense(m.flattenTfOrder(x), 'fc1'), 'prelu5_alpha', false);
  const logits = m.dense(x, 'fc2_1');
  const reg = m.dense(x, 'fc2_2');
  const landmarks = m.dense(x, 'fc2_3');
  g.node('Softmax', [logits], { name: 'softmax', outputs: ['prob'], attrs: { axis: attr.int(1) } });
  g.node('Identity', [reg], { name: 'reg_out', outputs: ['bbox_reg'] });
  g.node('Identity', [landmarks], { name: 'landmarks_out', outputs: ['landmarks'] });
  g.output('prob', ['batch', 2]);
  g.output('bbox_reg', ['batch', 4]);
  g.output('landmarks', ['batch', 10]);
  return { name: 'onet', bytes: g.build(META('O-Net')), outputs: ['prob', 'bbox_reg', 'landmarks'] };
}
