import { checkBoundParams, paramsFromForm, paramsFromUrl } from './query-params';

describe('query params', () => {
  it('reads q and the others from the form body first, then the URL; pretty only from the URL', () => {
    const url = new URLSearchParams('q=SHOW+DATABASES&db=a&epoch=ms&pretty=true&u=x&p=y');
    const form = new URLSearchParams('q=SHOW+MEASUREMENTS&db=b&pretty=false');
    expect(paramsFromForm(form, url)).toEqual({
      q: 'SHOW MEASUREMENTS',
      db: 'b',
      rp: '',
      epoch: 'ms',
      chunked: '',
      chunkSize: '',
      params: '',
      pretty: true,
    });
    expect(paramsFromUrl(new URLSearchParams('q=%20%20&chunked=true&chunk_size=5'))).toMatchObject({
      q: '',
      chunked: 'true',
      chunkSize: '5',
    });
    // an empty q in the body hides the URL's, as Go's FormValue does
    expect(paramsFromForm(new URLSearchParams('q='), url).q).toBe('');
  });

  it('refuses bound parameters that are not a JSON object', () => {
    expect(checkBoundParams('')).toBeUndefined();
    expect(checkBoundParams('{"h":"a"}')).toBeUndefined();
    expect(checkBoundParams('null')).toBeUndefined();
    expect(checkBoundParams('{bad')).toMatch(/^error parsing query parameters: /);
    expect(checkBoundParams('[1]')).toBe(
      'error parsing query parameters: json: cannot unmarshal array into Go value of type map[string]interface {}',
    );
  });
});
