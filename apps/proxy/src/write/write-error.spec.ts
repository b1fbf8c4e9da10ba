import { influxWriteError } from './write-error';

const none = { accepted: 3, dropped: 0, failed: [] };

describe('influxWriteError', () => {
  it("passes a lone backend's words through untouched, status included", () => {
    expect(influxWriteError(none, [{ status: 500, error: 'retention policy not found: x', lines: 3 }])).toEqual({
      status: 500,
      error: 'retention policy not found: x',
    });
    const partial =
      'partial write: field type conflict: input field "v" on measurement "m" is type float, already exists as type integer dropped=1';
    expect(influxWriteError(none, [{ status: 400, error: partial, lines: 3 }])).toEqual({ status: 400, error: partial });
  });

  it('counts a line that replicas both refused once', () => {
    const text = "partial write: unable to parse 'm v=abc': invalid boolean dropped=1";
    expect(
      influxWriteError(none, [
        { status: 400, error: text, lines: 3 },
        { status: 400, error: text, lines: 3 },
      ]),
    ).toEqual({ status: 400, error: text });
  });

  it("joins the proxy's own drops and different backends' reasons, dropped summed", () => {
    const own = { accepted: 4, dropped: 1, failed: ['unable to route \'z v=1\': no backend for measurement "z"'] };
    expect(
      influxWriteError(own, [
        { status: 400, error: "partial write: unable to parse 'a v=x': invalid boolean dropped=1", lines: 2 },
        {
          status: 400,
          error:
            'partial write: field type conflict: input field "v" on measurement "b" is type float, already exists as type integer dropped=2',
          lines: 2,
        },
      ]),
    ).toEqual({
      status: 400,
      error:
        "partial write: unable to route 'z v=1': no backend for measurement \"z\"\nunable to parse 'a v=x': invalid boolean\n" +
        'field type conflict: input field "v" on measurement "b" is type float, already exists as type integer dropped=4',
    });
  });

  it('answers a non-400 refusal before any 400', () => {
    expect(
      influxWriteError(none, [
        { status: 400, error: "unable to parse 'a v=x': invalid boolean", lines: 1 },
        { status: 413, error: 'Request Entity Too Large', lines: 3 },
      ]),
    ).toEqual({ status: 413, error: 'Request Entity Too Large' });
  });

  it("words the proxy's own drops as before when no backend refused", () => {
    expect(influxWriteError({ accepted: 0, dropped: 1, failed: ["unable to parse 'x': missing fields"] }, [])).toEqual({
      status: 400,
      error: "unable to parse 'x': missing fields",
    });
    expect(influxWriteError({ accepted: 2, dropped: 1, failed: ["unable to parse 'x': missing fields"] }, [])).toEqual({
      status: 400,
      error: "partial write: unable to parse 'x': missing fields dropped=1",
    });
  });
});
