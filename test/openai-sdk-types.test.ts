/**
 * The OpenAI dialect's route schemas (src/http/schemas/openai.ts) against the official `openai`
 * SDK's types, checked by the compiler (`npx tsc --noEmit` covers test/; vitest runs the file too):
 * - a request the SDK can send is one our body schema takes (SDK params -> our body type), and
 *   every field the SDK knows is one our schemas describe (JSON body and multipart form alike);
 * - our answers are the SDK's answers (our ImagesResponse and stream events -> the SDK's types),
 *   and every field the SDK reads is one our schemas describe.
 *
 * Where the gateway serves more than the SDK's closed lists say, the SDK type is opened, field by
 * field, each with its reason (Served below); anything else that differs fails the build.
 */
import type { Static } from '@sinclair/typebox';
import type * as Sdk from 'openai/resources/images';
import { describe, expectTypeOf, it } from 'vitest';
import type {
  EditJson,
  GenerationJson,
  ImageEditStreamEvent,
  ImageGenerationStreamEvent,
  ImageSchemas,
  ImagesResponse,
  Usage,
  VariationJson,
} from '../src/http/schemas/openai.js';

/** A literal union opened to any string (null and undefined kept). */
type Open<V> = V extends string ? string : V;

/**
 * The SDK type `T` as the gateway serves it: the `Opened` fields take any string, the `Optional`
 * ones may be absent (and are opened too). Homomorphic over T, so optional fields stay optional.
 */
type Served<T, Opened extends PropertyKey, Optional extends PropertyKey = never> = Omit<T, Opened | Optional> & {
  [P in keyof Pick<T, Extract<Exclude<Opened, Optional>, keyof T>>]: Open<T[P]>;
} & { [P in keyof Pick<T, Extract<Optional, keyof T>>]?: Open<T[P]> };

/** Fields of the SDK's type that our schema's type does not describe: must be none. */
type Undescribed<SdkType, Ours> = Exclude<keyof SdkType, keyof Ours>;

/**
 * Why fields are opened:
 * - size: dall-e-3's 1792x1024 and 1024x1792, gpt-image-2's custom WxH, 256x256 and 512x512
 *   (dall-e-2); the SDK's answer types list only the GPT image models' three;
 * - quality: dall-e-3's standard and hd, as the model answered it; a relay's own word is passed on;
 * - background, output_format: the upstream's word is passed on as it said it (and a stream event
 *   reports `auto`), where the SDK lists OpenAI's values;
 * - usage.input_tokens_details: given only when the upstream gave the breakdown (relays often do
 *   not), never made up;
 * - a stream's background and output_format: sent whenever known, which is always for the GPT
 *   image models (the only ones that stream); usage only when the upstream reported it.
 */
const OPENED = ['size', 'quality', 'background', 'output_format'] as const;
type OpenedField = (typeof OPENED)[number];

type ServedUsage = Served<Sdk.ImagesResponse.Usage, never, 'input_tokens_details'>;
type ServedImagesResponse = Served<Omit<Sdk.ImagesResponse, 'usage'> & { usage?: ServedUsage }, OpenedField>;
type ServedEventUsage = Served<Sdk.ImageGenCompletedEvent.Usage, never, 'input_tokens_details'>;
type ServedPartialEvent<E extends Sdk.ImageGenPartialImageEvent | Sdk.ImageEditPartialImageEvent> = Served<
  E,
  'size' | 'quality',
  'background' | 'output_format'
>;
type ServedCompletedEvent<E extends Sdk.ImageGenCompletedEvent | Sdk.ImageEditCompletedEvent> = Served<
  Omit<E, 'usage'> & { usage?: ServedEventUsage },
  'size' | 'quality',
  'background' | 'output_format'
>;

type OurGeneration = Static<typeof GenerationJson>;
type OurEdit = Static<typeof EditJson>;
type OurVariation = Static<typeof VariationJson>;
type OurEditForm = Static<(typeof ImageSchemas)['edits']['body']['content']['multipart/form-data']['schema']>;
type OurVariationForm = Static<(typeof ImageSchemas)['variations']['body']['content']['multipart/form-data']['schema']>;
type OurGenerationEvent = Static<typeof ImageGenerationStreamEvent>;
type OurEditEvent = Static<typeof ImageEditStreamEvent>;

describe("the OpenAI dialect's schemas and the openai SDK's types", () => {
  it('generations: every SDK request is a body our schema takes', () => {
    expectTypeOf<Sdk.ImageGenerateParams>().toExtend<OurGeneration>();
    expectTypeOf<Sdk.ImageGenerateParamsStreaming>().toExtend<OurGeneration>();
    expectTypeOf<Undescribed<Sdk.ImageGenerateParamsBase, OurGeneration>>().toEqualTypeOf<never>();
  });

  it('edits: the SDK sends a multipart form (images as files) whose fields our form describes, each of them a field of our JSON edits', () => {
    // The SDK's image and mask are files (Uploadable): multipart parts, described by the form.
    expectTypeOf<Omit<Sdk.ImageEditParams, 'image' | 'mask'>>().toExtend<OurEdit>();
    expectTypeOf<Undescribed<Sdk.ImageEditParamsBase, OurEditForm>>().toEqualTypeOf<never>();
    expectTypeOf<Undescribed<Sdk.ImageEditParamsBase, OurEdit>>().toEqualTypeOf<never>();
  });

  it('variations: likewise', () => {
    expectTypeOf<Omit<Sdk.ImageCreateVariationParams, 'image'>>().toExtend<OurVariation>();
    expectTypeOf<Undescribed<Sdk.ImageCreateVariationParams, OurVariationForm>>().toEqualTypeOf<never>();
  });

  it('our ImagesResponse is an SDK ImagesResponse, and describes every field the SDK reads', () => {
    expectTypeOf<Static<typeof ImagesResponse>>().toExtend<ServedImagesResponse>();
    expectTypeOf<Undescribed<Sdk.ImagesResponse, Static<typeof ImagesResponse>>>().toEqualTypeOf<never>();
    expectTypeOf<Undescribed<Sdk.ImagesResponse.Usage, Static<typeof Usage>>>().toEqualTypeOf<never>();
    expectTypeOf<Undescribed<Sdk.Image, Static<typeof ImagesResponse>['data'][number]>>().toEqualTypeOf<never>();
    // Nothing else is opened: without it, the same answer would not be the SDK's type.
    expectTypeOf<Static<typeof ImagesResponse>>().not.toExtend<Sdk.ImagesResponse>();
  });

  it('stream events: the same event types as the SDK, each one its event', () => {
    expectTypeOf<OurGenerationEvent['type']>().toEqualTypeOf<Sdk.ImageGenStreamEvent['type']>();
    expectTypeOf<OurEditEvent['type']>().toEqualTypeOf<Sdk.ImageEditStreamEvent['type']>();

    type GenPartial = Extract<OurGenerationEvent, { type: 'image_generation.partial_image' }>;
    type GenCompleted = Extract<OurGenerationEvent, { type: 'image_generation.completed' }>;
    type EditPartial = Extract<OurEditEvent, { type: 'image_edit.partial_image' }>;
    type EditCompleted = Extract<OurEditEvent, { type: 'image_edit.completed' }>;
    expectTypeOf<GenPartial>().toExtend<ServedPartialEvent<Sdk.ImageGenPartialImageEvent>>();
    expectTypeOf<GenCompleted>().toExtend<ServedCompletedEvent<Sdk.ImageGenCompletedEvent>>();
    expectTypeOf<EditPartial>().toExtend<ServedPartialEvent<Sdk.ImageEditPartialImageEvent>>();
    expectTypeOf<EditCompleted>().toExtend<ServedCompletedEvent<Sdk.ImageEditCompletedEvent>>();
    expectTypeOf<Undescribed<Sdk.ImageGenPartialImageEvent, GenPartial>>().toEqualTypeOf<never>();
    expectTypeOf<Undescribed<Sdk.ImageGenCompletedEvent, GenCompleted>>().toEqualTypeOf<never>();
    expectTypeOf<Undescribed<Sdk.ImageEditPartialImageEvent, EditPartial>>().toEqualTypeOf<never>();
    expectTypeOf<Undescribed<Sdk.ImageEditCompletedEvent, EditCompleted>>().toEqualTypeOf<never>();
  });
});
