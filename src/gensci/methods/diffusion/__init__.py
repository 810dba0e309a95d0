"""The diffusion toolkit shared by every diffusion model in gensci (k-diffusion's split):

- parametrisations.py: what a network predicts (eps / x0 / v / score) and the conversions between them;
- schedules.py: variance-preserving noise schedules by name (gamma tables) and their algebra;
- samplers.py: samplers by name, plain functions with one signature, plus the final step z_0 -> data;
- guidance.py: steering an eps-model: classifier-free guidance, and DPS posterior sampling for a linear
  measurement (inpainting masks, block-mean downsampling) with a stated measurement noise;
- likelihood.py: weighted times t for unbiased, low-variance estimates of the bound's diffusion term;
- config.py: the config fields a diffusion method shares (schedule, sampler, sampler options), validated on load;
- discrete.py: categorical diffusion with marginal transitions (D3PM/DiGress/MiDi), generic over the class count,
  and MiDi's per-modality cosine schedule;
- flow.py: flow matching for continuous and categorical variables (linear paths, discrete flow matching, Euler).
"""
