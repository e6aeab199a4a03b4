/** The models this key may use (GET /v1/models) and what one takes (GET /v1/models/{id}: capabilities). */
import { useQuery } from '@tanstack/react-query';
import type { ApiClient } from '../../api/client';
import type { ListAnswer, ModelDetail, ModelSummary } from '../../api/types';

export function useModels(api: ApiClient | undefined) {
  return useQuery({
    queryKey: ['v1', 'models'],
    enabled: api !== undefined,
    queryFn: ({ signal }) => (api as ApiClient).get<ListAnswer<ModelSummary>>('/v1/models', {}, signal),
    staleTime: 60_000,
  });
}

export function useModel(api: ApiClient | undefined, id: string | undefined) {
  return useQuery({
    queryKey: ['v1', 'models', id],
    enabled: api !== undefined && id !== undefined,
    queryFn: ({ signal }) => (api as ApiClient).get<ModelDetail>(`/v1/models/${encodeURIComponent(id ?? '')}`, {}, signal),
    staleTime: 60_000,
  });
}
