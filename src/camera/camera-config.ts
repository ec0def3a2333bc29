// The `camera:` section of the config: which frame source the daemon reads, and how it behaves
// when that source goes away. A video file or an image folder stands in for a live camera in
// tests, demos and benchmarks, so they are paced like one unless told otherwise.
import { z } from 'zod';

const CAMERA_TYPES = ['v4l2', 'rtsp', 'file', 'folder'] as const;

const ReconnectConfig = z
  .strictObject({
    initialMs: z.number().int().min(10).default(500).describe('first wait before reopening a lost source, in ms; doubles after each failed attempt'),
    maxMs: z.number().int().min(10).default(30000).describe('longest wait between reopen attempts, in ms'),
  })
  .refine((r) => r.maxMs >= r.initialMs, { message: 'maxMs must be at least initialMs', path: ['maxMs'] })
  .prefault({})
  .describe('backoff for reopening a camera that was lost (unplugged, network down, file replaced)');

const DEFAULT_CAMERA = {
  type: 'v4l2',
  device: '/dev/video0',
  width: 640,
  height: 480,
  loop: false,
  realtime: true,
  reconnect: { initialMs: 500, maxMs: 30000 },
  openTimeoutMs: 10000,
} as const;

export const CameraConfig = z
  .strictObject({
    type: z.enum(CAMERA_TYPES).default(DEFAULT_CAMERA.type).describe('v4l2 (USB/CSI camera), rtsp (IP camera), file (a video played as a camera) or folder (images played as a camera)'),
    device: z
      .union([z.string().min(1), z.number().int().min(0)])
      .default(DEFAULT_CAMERA.device)
      .describe('v4l2: device path or index (0 = /dev/video0); list them with `v4l2-ctl --list-devices`. A /dev/v4l/by-id/... path keeps naming the same camera after it is unplugged and plugged back in'),
    url: z
      .string()
      .regex(/^rtsps?:\/\//, 'must start with rtsp:// or rtsps://')
      .optional()
      .describe('rtsp: stream URL, e.g. rtsp://user:pass@192.168.1.20:554/stream1 (the password is never logged)'),
    path: z.string().min(1).optional().describe('file: video file; folder: folder of .jpg/.png images played in name order (relative to the config file)'),
    width: z.number().int().min(16).max(7680).default(DEFAULT_CAMERA.width).describe('v4l2: requested frame width; other sources deliver their own size'),
    height: z.number().int().min(16).max(4320).default(DEFAULT_CAMERA.height).describe('v4l2: requested frame height; other sources deliver their own size'),
    fps: z
      .number()
      .positive()
      .max(240)
      .optional()
      .describe('v4l2: requested rate (unset: the driver\'s default); file: playback rate (unset: the file\'s own); folder: playback rate (unset: 10); rtsp: ignored, the stream sets it'),
    loop: z.boolean().default(DEFAULT_CAMERA.loop).describe('file, folder: start over at the end instead of ending the stream'),
    realtime: z
      .boolean()
      .default(DEFAULT_CAMERA.realtime)
      .describe('file, folder: play at fps and drop the frames the consumer is too slow for, like a live camera; false: hand over every frame as fast as the consumer takes it (evaluation, benchmarks)'),
    reconnect: ReconnectConfig,
    openTimeoutMs: z.number().int().min(100).default(DEFAULT_CAMERA.openTimeoutMs).describe('how long start-up keeps trying to get a first frame before giving up, in ms; rtsp: also the network timeout of each connect and read'),
  })
  .superRefine((c, ctx) => {
    if (c.type === 'rtsp' && c.url === undefined) ctx.addIssue({ code: 'custom', path: ['url'], message: 'required when type is rtsp' });
    if ((c.type === 'file' || c.type === 'folder') && c.path === undefined) ctx.addIssue({ code: 'custom', path: ['path'], message: `required when type is ${c.type}` });
  })
  .default(DEFAULT_CAMERA)
  .describe('where frames come from');

export type CameraConfig = z.output<typeof CameraConfig>;
